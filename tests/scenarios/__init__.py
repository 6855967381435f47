"""Scenario tests: realistic stories played end to end through the CLI, the SDK and the API."""
