"""The city's registers beside the chain: merchant profiles and their applications, the public
directory, and residents' cash accounts.

``validation`` checks a profile, ``profiles`` stores and reads it, ``applications`` is the
review (apply, approve with the registration call, reject), ``directory`` the public search,
``accounts`` the bank accounts other modules pay to."""
