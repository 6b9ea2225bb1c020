import CHDF5
import COpenSSL

/// The versions of the C libraries this layer links (HDF5, OpenSSL libcrypto), for `ipet --version`.
public enum NativeLibraryVersions {
    public static var hdf5: String {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        _ = H5get_libversion(&major, &minor, &release)
        return "\(major).\(minor).\(release)"
    }

    public static var libcrypto: String { String(cString: shim_openssl_version()) }
}
