"""Job functions and the periodic schedule, shared by the embedded and scaled modes."""
