"""The built-in HomeWorks QS / RadioRA 2 processor simulator."""
