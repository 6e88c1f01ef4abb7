"""Electronic conduction in the solid phase AM u NSD (symbol phi_s, V).

Strong form:   div i_s = 0,   i_s = -sigma grad phi_s       (sigma = sigma_AM or sigma_NSD)
               i_s . n jumps by j on Gamma: the electronic phase loses the reaction current
               -sigma grad phi_s . n = -i_app at the collector (n outward), i.e.
               sigma grad phi_s . e_z = i_app, i_app > 0 on discharge.

Weak form:     (sigma grad phi_s, grad v) + <j, v>_Gamma + <i_app, v>_collector = 0.
"""

from __future__ import annotations

from foundation.stack import ufl

Expr = ufl.core.expr.Expr


def current_density(phi_s: Expr, conductivity: Expr) -> Expr:
    """i_s = -sigma grad phi_s [A/m^2]."""
    return -conductivity * ufl.grad(phi_s)


def conduction(phi_s: Expr, v: Expr, conductivity: Expr, dx: ufl.Measure) -> ufl.Form:
    """-i_s . grad v dx [A]."""
    return -ufl.inner(current_density(phi_s, conductivity), ufl.grad(v)) * dx


def galvanostatic_collector(applied_current_density: Expr, v: Expr, ds_collector: ufl.Measure) -> ufl.Form:
    """i_app v ds over the current collector [A] (uniform current density, discharge > 0)."""
    return applied_current_density * v * ds_collector
