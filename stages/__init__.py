"""Pipeline stages (one module per DVC stage) and the small library they share."""
