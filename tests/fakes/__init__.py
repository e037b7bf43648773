"""Local fakes of external services on 127.0.0.1, speaking their real wire formats."""
