"""Running a deployment: audit the stored histories, back up and restore the store."""
