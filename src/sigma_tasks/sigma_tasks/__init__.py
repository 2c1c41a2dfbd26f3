"""Fleet tasks: model, state machine, cost model and allocation. No ROS, no web framework; time is passed in."""
