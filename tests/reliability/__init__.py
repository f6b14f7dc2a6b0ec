"""Reliability under load and faults: real `mediation` processes, many clients, kill -9."""
