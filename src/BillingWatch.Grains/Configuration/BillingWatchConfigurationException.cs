namespace BillingWatch.Configuration;

/// <summary>A setting the process cannot start with. Its message is one line that names the setting.</summary>
public sealed class BillingWatchConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
