"""microbat models: parameters, weak forms, solver, protocols and run outputs.

Importing this package does not import dolfinx; modules that need the FEniCSx stack get
it from :mod:`foundation.stack`.
"""
