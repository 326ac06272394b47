"""Training: tiny base models, IT/SIT fine-tuning (TRL), the models each profile trains."""
