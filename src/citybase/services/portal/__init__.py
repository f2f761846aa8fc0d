"""The citizen portal's real-name sign-in (实名登录) and the applicant's own page (我的)."""
