"""Offline evaluation of the matching engine: metrics, a labelled bilingual set and `koble evaluate`."""
