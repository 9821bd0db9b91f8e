"""Deviation and anomaly checks, alerts and curves: what tells managers early that works fall behind or look
wrong (the planned curve and the deviation rule themselves are in `kotaku.domain.plan`)."""
