"""The city's registers beside the chain: merchant profiles and their applications, the public
directory, and residents' cash accounts."""
