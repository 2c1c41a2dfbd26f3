"""SigmaPrompt swarm mesh: signed Cyclone DDS mesh per site, leader election with leases and term fencing.

``core`` is the sans-I/O protocol, ``dst`` its deterministic simulation tester, ``wire``/``auth``/``roster`` the signed
message layer, ``transport`` the Cyclone DDS binding, ``runtime`` the member process, ``swarm_node`` the ROS shell.
"""
