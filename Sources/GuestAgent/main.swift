// Placeholder until the agent lands.
print("daxrig-agent")
