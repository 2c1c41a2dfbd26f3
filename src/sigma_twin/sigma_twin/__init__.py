"""Digital twin and predictive maintenance of SigmaPrompt humanoids."""
