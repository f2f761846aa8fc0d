"""Tasks (任务): what each plan asks of which units, their milestones and monthly updates."""
