"""The relayer: accepts citizens' signed requests, batches them into the forwarder, tracks
each to its final state, and survives restarts without losing or double-executing any."""
