//! Writing the matrix: `matrix.md`, `matrix.json` and `matrix.html` in one directory, each
//! staged as a temporary file beside its final name and renamed into place, so a failure never
//! leaves a half-written file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Matrix, render};
use crate::error::Error;

/// The files [`write()`] creates, in the order it writes them.
pub const FILES: [&str; 3] = ["matrix.md", "matrix.json", "matrix.html"];

/// Creates `dir` if missing and checks a file can be created in it, so a run is not wasted
/// on an output directory that cannot take the result.
pub fn prepare_dir(dir: &Path) -> Result<(), Error> {
    let fail = |source| Error::MatrixOutput {
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    Ok(())
}

/// Writes [`FILES`] into `dir` (created if missing). Each file is written to a temporary
/// file in `dir` first and renamed into place only once all three are written, so a failure
/// leaves the previous files whole. Returns the paths written.
pub fn write(matrix: &Matrix, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    prepare_dir(dir)?;
    let json = render::json(matrix).map_err(|e| Error::MatrixOutput {
        path: dir.join(FILES[1]),
        source: e.into(),
    })?;
    let texts = [render::markdown(matrix), json, render::html(matrix)];
    let files: Vec<(&str, String)> = FILES.iter().copied().zip(texts).collect();
    write_staged(dir, &files)
}

/// Writes each `(name, text)` into `dir`, all staged as temporary files first and renamed
/// into place only once every one is written, so a failure leaves the previous files whole.
/// Returns the paths written. Shared with `pgssl-conform report`.
pub fn write_staged(dir: &Path, files: &[(&str, String)]) -> Result<Vec<PathBuf>, Error> {
    let mut staged = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        let fail = |source| Error::MatrixOutput {
            path: path.clone(),
            source,
        };
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
        file.write_all(text.as_bytes()).map_err(fail)?;
        file.as_file().sync_all().map_err(fail)?;
        // The temporary file is private (0600); the output is for reading.
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(fail)?;
        staged.push((file, path));
    }
    let mut written = Vec::new();
    for (file, path) in staged {
        file.persist(&path).map_err(|e| Error::MatrixOutput {
            path: path.clone(),
            source: e.error,
        })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{Column, build};
    use super::*;
    use crate::case::Version;
    use crate::run::{CaseResult, Status};

    fn matrix() -> Matrix {
        let result = CaseResult {
            id: "a/x".to_owned(),
            rules: vec!["W1".to_owned()],
            target: String::new(),
            status: Status::Pass,
            trace: vec!["< S".to_owned()],
            diff: None,
            note: None,
        };
        let column = Column {
            version: Version::ALL[0],
            target: "t".to_owned(),
            results: vec![result],
        };
        build(vec![column], &BTreeMap::new()).unwrap()
    }

    #[test]
    fn write_creates_the_directory_and_the_three_files_leaving_no_temporary_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested/out");
        let m = matrix();
        let written = write(&m, &dir).unwrap();
        assert_eq!(written.len(), FILES.len());
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut expected: Vec<String> = FILES.iter().map(|s| (*s).to_owned()).collect();
        expected.sort();
        assert_eq!(names, expected);
        // Writing the same matrix again gives the same bytes.
        let before = std::fs::read(dir.join("matrix.html")).unwrap();
        write(&m, &dir).unwrap();
        assert_eq!(before, std::fs::read(dir.join("matrix.html")).unwrap());
    }

    #[test]
    fn an_output_path_under_a_file_is_refused_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain");
        std::fs::write(&file, "").unwrap();
        let dir = file.join("out");
        let err = prepare_dir(&dir).unwrap_err();
        assert!(matches!(err, Error::MatrixOutput { .. }));
        assert!(err.to_string().contains(&dir.display().to_string()));
    }
}
