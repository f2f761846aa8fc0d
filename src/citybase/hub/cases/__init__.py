"""Cases (工单): one record for every matter the city must answer, and the workflow that carries
it from intake to the citizen's verdict."""
