"""Physics blocks of the half-cell model, one small module each, returning UFL.

Each block states one conservation law or kinetic law of docs/model.md ("Model") in weak form
(or the flux/current it needs); :mod:`models.halfcell` puts them together into the coupled
problem. Residual contributions are currents: species equations are multiplied by F so that
every row of the Newton system has the same unit (A) and one absolute tolerance fits all.
"""
