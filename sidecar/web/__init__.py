"""HTTP: thin Flask blueprints that parse requests, call domain functions and shape answers."""
