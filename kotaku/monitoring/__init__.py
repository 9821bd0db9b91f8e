"""Plans, deviation and anomaly checks: what tells managers early that works fall behind or look wrong."""
