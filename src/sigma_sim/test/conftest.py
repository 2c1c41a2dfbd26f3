from hypothesis import settings

pytest_plugins = ["sigma_testing.fixtures"]

# No example database on disk: test runs leave nothing behind in the source tree.
settings.register_profile("sigma_sim", database=None, deadline=None)
settings.load_profile("sigma_sim")
