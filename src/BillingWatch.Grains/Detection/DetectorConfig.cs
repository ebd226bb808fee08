using Orleans;

namespace BillingWatch.Detection;

/// <summary>A tenant's choices for one detector: on or off, and the settings it changed from the defaults.</summary>
[GenerateSerializer]
public sealed class DetectorConfig
{
    /// <summary>
    /// Stored inverted on purpose: grain state is JSON that omits default values, so a flag whose
    /// meaningful value is the CLR default (false) must mean "as if never set".
    /// </summary>
    [Id(0)]
    public bool Disabled { get; set; }

    public bool Enabled => !Disabled;

    [Id(1)]
    public Dictionary<string, double> Settings { get; set; } = [];
}

public static class DetectorConfigs
{
    public static IReadOnlyDictionary<string, double> Effective(IDetector detector, DetectorConfig? config)
    {
        var effective = detector.Settings.ToDictionary(s => s.Key, s => s.Default, StringComparer.Ordinal);
        if (config is not null)
        {
            foreach (var (key, value) in config.Settings)
            {
                if (effective.ContainsKey(key))
                {
                    effective[key] = value;
                }
            }
        }

        return effective;
    }

    /// <summary>Checks new settings against the detector's keys and ranges; returns the first problem.</summary>
    public static string? Validate(IDetector detector, IReadOnlyDictionary<string, double> settings)
    {
        foreach (var (key, value) in settings)
        {
            var setting = detector.Settings.FirstOrDefault(s => s.Key == key);
            if (setting is null)
            {
                return $"{detector.Name} has no setting \"{key}\"; its settings are {string.Join(", ", detector.Settings.Select(s => s.Key))}.";
            }

            if (double.IsNaN(value) || value < setting.Min || value > setting.Max)
            {
                return $"{detector.Name}.{key} must be between {setting.Min} and {setting.Max}; got {value}.";
            }

            if (setting.WholeNumber && value != Math.Floor(value))
            {
                return $"{detector.Name}.{key} must be a whole number; got {value}.";
            }
        }

        return null;
    }
}
