namespace BillingWatch;

public static class StorageNames
{
    /// <summary>The Orleans grain storage provider every BillingWatch grain persists through.</summary>
    public const string Grains = "billingwatch";
}
