import CFFTW
import CSndFile
import CSoxr

/// The versions of the C libraries this layer links (libsndfile, libsoxr, FFTW), for `ipet --version`.
public enum AudioLibraryVersions {
    public static var sndfile: String { String(cString: sf_version_string()) }
    public static var soxr: String { String(cString: soxr_version()) }
    public static var fftw: String { String(cString: shim_fftwf_version()) }
}
