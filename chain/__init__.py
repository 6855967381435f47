"""Dongne chain package."""
