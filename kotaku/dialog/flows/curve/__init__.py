"""/kurva (/curve): the S-curve of one activity, or of a kelurahan/kota, as a PNG with a short caption.

`/kurva ACT-BJL-01` (a code, or a word of the activity's name), `/kurva` alone offers the activities in
scope as buttons, `/kurva 33.22.05.1001` (or `/kurva kelurahan 33.22.05.1001`, `/kurva kota 33.22`) draws
the budget-weighted curve of every activity in that area.
"""

from kotaku.dialog.flows.curve.flow import CurveFlow

__all__ = ["CurveFlow"]
