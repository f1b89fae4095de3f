"""Onboarding a hospital export: `referral-warehouse sources validate | check | draft`."""
