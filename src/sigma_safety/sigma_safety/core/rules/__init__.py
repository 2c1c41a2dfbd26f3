"""The safety rules: each a small class with declared parameters and ``evaluate(snapshot, now) -> RuleOutput``."""
