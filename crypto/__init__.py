"""Envelope encryption, sealed values and blind indexes for PHI at rest."""
