"""Fleet tasks over the swarm mesh: the leader's allocation (sigma_tasks) wired to sigma_swarm's fenced commands."""
