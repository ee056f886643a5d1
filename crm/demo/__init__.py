"""Demo and bulk data: `seed_demo` (a believable small company) and `generate_data` (volume).

Both draw everything from a seeded `random.Random`, never the global one, so a seed names a
data set. See crm/management/commands/ for the command-line side.
"""
