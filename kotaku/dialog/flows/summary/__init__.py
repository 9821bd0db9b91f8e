"""/rekap (/summary): sites, today's reports, progress against plan, workers, HOK, wages and obstacles.

The flow is named "rekap" (its sentences are "rekap.*"), so messages that name a flow show the command
users type.
"""

from kotaku.dialog.flows.summary.flow import SummaryFlow

__all__ = ["SummaryFlow"]
