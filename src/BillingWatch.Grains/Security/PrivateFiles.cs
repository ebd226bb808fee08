namespace BillingWatch.Security;

/// <summary>
/// Folders and files that hold secrets (the data folder, the database, the key ring, the admin key) are
/// created readable by their owner only: 0700 for folders, 0600 for files, set at creation rather than
/// tightened afterwards, so there is no moment at which another user could open them.
/// </summary>
public static class PrivateFiles
{
    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates the folder (and missing parents) with mode 0700; an existing folder is left as it is.</summary>
    public static void EnsureFolder(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else if (!Directory.Exists(path))
        {
            Directory.CreateDirectory(path, FolderMode);
        }
    }

    /// <summary>Creates an empty file with mode 0600 unless it exists; true when it was created.</summary>
    public static bool EnsureFile(string path)
    {
        try
        {
            using var _ = Create(path);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
    }

    /// <summary>A new file (never an existing one) with mode 0600, open for writing.</summary>
    public static FileStream Create(string path)
    {
        var options = new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode;
        }

        return new FileStream(path, options);
    }
}
