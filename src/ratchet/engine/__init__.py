"""The application layer: uses ports only, never an adapter directly."""
