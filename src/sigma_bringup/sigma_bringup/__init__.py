"""Fleet bring-up with the cloud tier, and the scripted demonstration scenario."""
