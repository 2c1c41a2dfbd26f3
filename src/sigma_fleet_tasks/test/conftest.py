pytest_plugins = ["sigma_testing.fixtures"]
