"""Dongne gateway package."""
