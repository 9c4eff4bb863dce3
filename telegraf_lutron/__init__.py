"""telegraf-lutron: Lutron HomeWorks QS / RadioRA 2 lighting as Telegraf metrics."""

__version__ = "0.1.0"
