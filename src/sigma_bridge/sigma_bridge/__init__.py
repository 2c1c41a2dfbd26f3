"""sigma_bridge: robot <-> cloud bridge (store-and-forward uplink, decision downlink, Foxglove view, black box)."""
