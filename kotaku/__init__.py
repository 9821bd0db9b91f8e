"""kotaku: field reporting for the KOTAKU slum-upgrading program over chat."""

__version__ = "0.1.0"
