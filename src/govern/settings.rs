//! Per-device folder and sync settings: which of its account's folders a device is shown,
//! how far back its mail reaches, and how tasks and notes are to reach it. A device gets
//! them when it is admitted, from the new-device template of the ABQ rule that decided its
//! state (or the global rule's); an admin changes them with `easd device settings`.
//!
//! The defaults are what a device got before these settings existed, so a device row
//! written by an older easd loads with settings that change nothing.
//!
//! What takes effect today: `groupware_folders`, `mail_folders` (through [`Sight`], the
//! one check every command makes before it touches a folder), `mail_period` and
//! `calendar_period` (through `MailPolicy`, where the policy's MaxEmailAgeFilter and
//! MaxCalendarAgeFilter are enforced), and `tasks_as_events` with `tasks_calendar`
//! (through [`Sight::merged_into`]: the chosen calendar collection also carries the tasks
//! as all-day events; a change makes the device resync that calendar), and `notes_as` with
//! `notes_folder` (the same way: notes as events in a calendar or as tasks in a task
//! folder, and, unless `tasks-and-notes`, no longer in the notes folders). The others are kept and validated for what easd does not have yet: archive,
//! public and shared folders.
//!
//! As `KEY=VALUE`, keys are the snake_case field names (as in `--json`) and values are
//! kebab-case words: `mail_folders=default`, `groupware_folders=all-as-mail`,
//! `mail_period=2w`, `archive=on`, `tasks_calendar=default` or a folder id. In JSON, on/off
//! are booleans and `none`/`default` are null.

use super::GovernError;
use std::convert::Infallible;

use serde::{Deserialize, Serialize};

use crate::proto::filter::FilterType;
use crate::store::StoreError;
use crate::store::model::{
    Access, AccountId, Device, DeviceSettings, Folder, FolderId, FolderType, GroupwareFolders,
    MailFolders, NotesAs, Period, TasksAsEvents,
};
use crate::store::model::{Merge, Merged};
use crate::store::ops::Reads;
use crate::store::share::Reach;

use super::registry;

/// The keys `KEY=VALUE` accepts, in the order they are shown.
pub const KEYS: [&str; 11] = [
    "groupware_folders",
    "mail_folders",
    "archive",
    "public_folders",
    "shared_folders",
    "mail_period",
    "calendar_period",
    "tasks_as_events",
    "tasks_calendar",
    "notes_as",
    "notes_folder",
];

/// The windows a calendar period may be ([MS-ASCMD] 2.2.3.71.2: 4-7 for calendar items).
const CALENDAR_PERIODS: [Period; 4] = [
    Period::TwoWeeks,
    Period::OneMonth,
    Period::ThreeMonths,
    Period::SixMonths,
];

/// A value word of one of the enums above, by its serde name.
fn word<T: for<'de> Deserialize<'de>>(key: &str, value: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|e| format!("{key}={value}: {e}"))
}

fn word_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

pub fn on_off(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{key}={value}: expected on or off")),
    }
}

fn period(key: &str, value: &str) -> Result<Option<Period>, String> {
    match value {
        "none" => Ok(None),
        _ => word(key, value).map(Some),
    }
}

fn folder_choice(key: &str, value: &str) -> Result<Option<FolderId>, String> {
    match value {
        "default" => Ok(None),
        _ => value
            .parse()
            .map(Some)
            .map_err(|_| format!("{key}={value}: expected default or a folder id")),
    }
}

impl DeviceSettings {
    /// Applies `KEY=VALUE` pairs in order; an unknown key or value refuses them all.
    pub fn apply(&mut self, values: &[(String, String)]) -> Result<(), GovernError> {
        for (key, value) in values {
            self.set(key, value).map_err(GovernError::Invalid)?;
        }
        Ok(())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "groupware_folders" => self.groupware_folders = word(key, value)?,
            "mail_folders" => self.mail_folders = word(key, value)?,
            "archive" => self.archive = on_off(key, value)?,
            "public_folders" => self.public_folders = on_off(key, value)?,
            "shared_folders" => self.shared_folders = on_off(key, value)?,
            "mail_period" => self.mail_period = period(key, value)?,
            "calendar_period" => {
                let p = period(key, value)?;
                if p.is_some_and(|p| !CALENDAR_PERIODS.contains(&p)) {
                    return Err(format!(
                        "{key}={value}: a calendar period is none, 2w, 1m, 3m or 6m"
                    ));
                }
                self.calendar_period = p;
            }
            "tasks_as_events" => self.tasks_as_events = word(key, value)?,
            "tasks_calendar" => self.tasks_calendar = folder_choice(key, value)?,
            "notes_as" => self.notes_as = word(key, value)?,
            "notes_folder" => self.notes_folder = folder_choice(key, value)?,
            _ => {
                return Err(format!(
                    "unknown device setting {key:?}; the keys are {}",
                    KEYS.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Every setting as `(KEY, VALUE)`, in the words `KEY=VALUE` takes.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let switch = |on: bool| if on { "on" } else { "off" }.to_owned();
        let period = |p: Option<Period>| p.map_or_else(|| "none".to_owned(), |p| word_of(&p));
        let folder =
            |f: Option<FolderId>| f.map_or_else(|| "default".to_owned(), |f| f.to_string());
        let values = [
            word_of(&self.groupware_folders),
            word_of(&self.mail_folders),
            switch(self.archive),
            switch(self.public_folders),
            switch(self.shared_folders),
            period(self.mail_period),
            period(self.calendar_period),
            word_of(&self.tasks_as_events),
            folder(self.tasks_calendar),
            word_of(&self.notes_as),
            folder(self.notes_folder),
        ];
        KEYS.into_iter().zip(values).collect()
    }

    /// The FilterType cap of mail collections; `All`: none.
    pub fn mail_filter_cap(&self) -> FilterType {
        self.mail_period
            .map_or(FilterType::All, Period::filter_type)
    }

    /// The FilterType cap of calendar collections; `All`: none.
    pub fn calendar_filter_cap(&self) -> FilterType {
        self.calendar_period
            .map_or(FilterType::All, Period::filter_type)
    }

    /// Checks the chosen folders against the folders of the device's account: the tasks
    /// calendar must be a calendar, the notes folder of the kind `notes_as` puts notes in.
    pub fn check_folders(&self, folders: &[Folder]) -> Result<(), GovernError> {
        let chosen = [
            ("tasks_calendar", self.tasks_calendar, Kind::Calendar),
            ("notes_folder", self.notes_folder, self.notes_kind()),
        ];
        for (key, id, kind) in chosen {
            let Some(id) = id else { continue };
            match folders.iter().find(|f| f.id == id) {
                None => {
                    return Err(GovernError::Invalid(format!(
                        "{key}={id}: the account has no folder {id}"
                    )));
                }
                Some(f) if Kind::of(f.kind) != Some(kind) => {
                    return Err(GovernError::Invalid(format!(
                        "{key}={id}: {:?} is not a {} folder",
                        f.name,
                        kind.name()
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// A rule's template is for devices of any account, so it cannot name a folder.
    pub fn check_template(&self) -> Result<(), GovernError> {
        if self.tasks_calendar.is_some() || self.notes_folder.is_some() {
            return Err(GovernError::Invalid(
                "a new-device template names no folder (folder ids belong to one account): \
                 use tasks_calendar=default and notes_folder=default"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The kind of folder notes go into.
    fn notes_kind(&self) -> Kind {
        match self.notes_as {
            NotesAs::Notes => Kind::Notes,
            NotesAs::Events => Kind::Calendar,
            NotesAs::Tasks | NotesAs::TasksAndNotes => Kind::Tasks,
        }
    }
}

/// The groupware folder kinds a setting may name a folder of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Calendar,
    Tasks,
    Notes,
}

impl Kind {
    fn of(t: FolderType) -> Option<Kind> {
        match t {
            FolderType::Calendar | FolderType::UserCalendar => Some(Kind::Calendar),
            FolderType::Tasks | FolderType::UserTasks => Some(Kind::Tasks),
            FolderType::Notes | FolderType::UserNotes => Some(Kind::Notes),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Calendar => "calendar",
            Kind::Tasks => "tasks",
            Kind::Notes => "notes",
        }
    }
}

/// Calendar, Contacts, Tasks, Notes and Journal folders, default or user-created.
fn is_groupware(t: FolderType) -> bool {
    matches!(
        t,
        FolderType::Tasks
            | FolderType::Calendar
            | FolderType::Contacts
            | FolderType::Notes
            | FolderType::Journal
            | FolderType::UserCalendar
            | FolderType::UserContacts
            | FolderType::UserTasks
            | FolderType::UserJournal
            | FolderType::UserNotes
    )
}

/// Longest parent chain followed; the store keeps the tree acyclic, this only bounds a
/// corrupt one.
const MAX_DEPTH: usize = 256;

/// Which of its account's folders a device is shown, and whether it is sent what they hold:
/// the one check FolderSync and every command naming a folder or an item make. A
/// quarantined device sees only the default folders, whatever its settings, and is sent
/// nothing of what they hold: only its own changes flow, client to server ([`Sight::folder`]
/// for commands that take changes, [`Sight::contents`] for those that hand out items).
/// Otherwise the settings decide, and a folder under a hidden folder is hidden too (the
/// device could not place it).
///
/// It owns a copy of the settings (a few bytes), so that a command's read closure
/// ([`crate::store::Store::view`]) can take it along.
#[derive(Debug, Clone, Copy)]
pub struct Sight {
    settings: DeviceSettings,
    quarantined: bool,
}

impl Sight {
    pub fn of(device: &Device) -> Self {
        Sight {
            settings: *device.settings_in_force(),
            quarantined: registry::access(device) == Access::Quarantine,
        }
    }

    /// `folder` on its own, regardless of the folders above it.
    fn admits(&self, folder: &Folder) -> bool {
        if folder.special {
            return true;
        }
        if self.quarantined {
            return false;
        }
        if is_groupware(folder.kind) {
            self.settings.groupware_folders != GroupwareFolders::Default
        } else {
            self.settings.mail_folders != MailFolders::Default
        }
    }

    /// Whether `folder` and every folder above it are admitted; `lookup` finds a folder.
    fn shows<E>(
        &self,
        folder: &Folder,
        mut lookup: impl FnMut(FolderId) -> Result<Option<Folder>, E>,
    ) -> Result<bool, E> {
        if !self.admits(folder) {
            return Ok(false);
        }
        let mut parent = folder.parent;
        for _ in 0..MAX_DEPTH {
            let Some(p) = lookup(parent)? else {
                return Ok(true);
            };
            if !self.admits(&p) {
                return Ok(false);
            }
            parent = p.parent;
        }
        Ok(true)
    }

    /// The account's folder `id` when the device is shown it, as stored (its real type).
    /// `None` is what a command answers for a folder the device does not have.
    pub fn folder(
        &self,
        tx: &impl Reads,
        account: AccountId,
        id: FolderId,
    ) -> Result<Option<Folder>, StoreError> {
        let Some(f) = tx.folder(account, id)? else {
            return Ok(None);
        };
        Ok(self.shows(&f, |p| tx.folder(account, p))?.then_some(f))
    }

    /// Which other accounts' folders the device is shown: those its `shared_folders` and
    /// `public_folders` settings allow; none while quarantined.
    pub fn reach(&self) -> Reach {
        if self.quarantined {
            return Reach::NONE;
        }
        Reach {
            shared: self.settings.shared_folders,
            public: self.settings.public_folders,
        }
    }

    /// Whether the device is sent anything of what its folders hold: items, their changes,
    /// search hits, attachments. Not while quarantined.
    pub fn serves_contents(&self) -> bool {
        !self.quarantined
    }

    /// The account's folder `id` when the device is shown it and sent what it holds:
    /// `None` is what a command that hands out items answers for a folder the device does
    /// not have.
    pub fn contents(
        &self,
        tx: &impl Reads,
        account: AccountId,
        id: FolderId,
    ) -> Result<Option<Folder>, StoreError> {
        if !self.serves_contents() {
            return Ok(None);
        }
        self.folder(tx, account, id)
    }

    /// [`Sight::folder`] for a folder id as the device sent it.
    pub fn folder_named(
        &self,
        tx: &impl Reads,
        account: AccountId,
        id: &str,
    ) -> Result<Option<Folder>, StoreError> {
        match id.parse() {
            Ok(id) => self.folder(tx, account, id),
            Err(_) => Ok(None),
        }
    }

    /// Whether the device is shown groupware folder `folder` as a mail folder
    /// (`groupware_folders=all-as-mail`): read-only, what it holds generated messages.
    pub fn shows_as_mail(&self, folder: &Folder) -> bool {
        self.settings.groupware_folders == GroupwareFolders::AllAsMail && is_groupware(folder.kind)
    }

    /// What the collection of `folder` carries besides its own items for this device:
    /// - its notes or tasks as generated messages for a notes or tasks folder shown as a
    ///   mail folder, none of its own groupware items for another groupware folder so
    ///   shown (calendars, contacts), and
    ///   for a notes folder when `notes_as` is `events` or `tasks` (the device gets the
    ///   notes there instead; `tasks-and-notes` keeps them in both);
    /// - `tasks_as_events` on: the calendar it names (`tasks_calendar`, else the default
    ///   Calendar) carries the tasks of every task folder the device is shown;
    /// - `notes_as` events, tasks or tasks-and-notes: the folder of that kind it names
    ///   (`notes_folder`, else the default one) carries the notes of every notes folder the
    ///   device is shown.
    ///
    /// A chosen folder that is gone falls back to the default one.
    pub fn merged_into(
        &self,
        tx: &impl Reads,
        account: AccountId,
        folder: &Folder,
    ) -> Result<Option<Merged>, StoreError> {
        let kind = Kind::of(folder.kind);
        if self.shows_as_mail(folder) {
            // Notes and tasks read as messages; calendars and contacts stay empty.
            return Ok(Some(match kind {
                Some(Kind::Notes | Kind::Tasks) => Merged::as_mail(),
                _ => Merged::withholding_own(),
            }));
        }
        let notes_elsewhere = matches!(self.settings.notes_as, NotesAs::Events | NotesAs::Tasks);
        if notes_elsewhere && kind == Some(Kind::Notes) {
            return Ok(Some(Merged::withholding_own()));
        }
        let tasks = match self.settings.tasks_as_events {
            TasksAsEvents::Off => None,
            TasksAsEvents::All => Some(Merge::TasksAsEvents {
                not_completed: false,
            }),
            TasksAsEvents::NotCompleted => Some(Merge::TasksAsEvents {
                not_completed: true,
            }),
        };
        let notes = match self.settings.notes_as {
            NotesAs::Notes => None,
            NotesAs::Events => Some(Merge::NotesAsEvents),
            NotesAs::Tasks | NotesAs::TasksAndNotes => Some(Merge::NotesAsTasks),
        };
        // (what is merged, the chosen target, the kind of the target, the source kind)
        let wanted = [
            tasks.map(|m| (m, self.settings.tasks_calendar, Kind::Calendar, Kind::Tasks)),
            notes.map(|m| {
                (
                    m,
                    self.settings.notes_folder,
                    self.settings.notes_kind(),
                    Kind::Notes,
                )
            }),
        ];
        // Most collections merge nothing: answered without reading the folder list.
        if !wanted.iter().flatten().any(|w| Some(w.2) == kind) {
            return Ok(None);
        }
        let folders = tx.folders(account)?;
        let shown: Vec<FolderId> = self
            .hierarchy(folders.clone())
            .iter()
            .map(|f| f.id)
            .collect();
        let mut sources = Vec::new();
        for (what, chosen, target_kind, source_kind) in wanted.into_iter().flatten() {
            let target = chosen
                .filter(|id| {
                    folders
                        .iter()
                        .any(|f| f.id == *id && Kind::of(f.kind) == Some(target_kind))
                })
                .or_else(|| {
                    folders
                        .iter()
                        .find(|f| f.special && Kind::of(f.kind) == Some(target_kind))
                        .map(|f| f.id)
                });
            if target != Some(folder.id) {
                continue;
            }
            sources.extend(
                folders
                    .iter()
                    .filter(|f| Kind::of(f.kind) == Some(source_kind) && shown.contains(&f.id))
                    .map(|f| (f.id, what)),
            );
        }
        Ok(Merged::new(sources))
    }

    /// The folders FolderSync announces, out of all the account's: the hidden ones left
    /// out, groupware folders typed as user-created mail folders under `all-as-mail`.
    pub fn hierarchy(&self, folders: Vec<Folder>) -> Vec<Folder> {
        let by_id: std::collections::HashMap<FolderId, &Folder> =
            folders.iter().map(|f| (f.id, f)).collect();
        let as_mail = self.settings.groupware_folders == GroupwareFolders::AllAsMail;
        let shown: Vec<bool> = folders
            .iter()
            .map(|f| {
                let found = self.shows(f, |p| {
                    Ok::<_, Infallible>(by_id.get(&p).map(|f| (*f).clone()))
                });
                match found {
                    Ok(shown) => shown,
                    Err(never) => match never {},
                }
            })
            .collect();
        folders
            .into_iter()
            .zip(shown)
            .filter_map(|(mut f, shown)| {
                if as_mail && is_groupware(f.kind) {
                    f.kind = FolderType::UserMail;
                }
                shown.then_some(f)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(id: u64, parent: u64, kind: FolderType, special: bool) -> Folder {
        Folder {
            id,
            parent,
            name: format!("f{id}"),
            kind,
            special,
            modseq: 0,
        }
    }

    fn set(pairs: &[(&str, &str)]) -> Result<DeviceSettings, GovernError> {
        let mut s = DeviceSettings::default();
        let values: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        s.apply(&values).map(|()| s)
    }

    #[test]
    fn keys_and_values_round_trip_and_bad_ones_are_refused() {
        let s = set(&[
            ("groupware_folders", "all-as-mail"),
            ("mail_folders", "default"),
            ("archive", "on"),
            ("mail_period", "2w"),
            ("calendar_period", "6m"),
            ("tasks_as_events", "not-completed"),
            ("tasks_calendar", "7"),
            ("notes_as", "tasks-and-notes"),
        ])
        .expect("valid");
        assert_eq!(s.mail_filter_cap(), FilterType::TwoWeeks);
        let shown: Vec<(String, String)> = s
            .pairs()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let mut again = DeviceSettings::default();
        again.apply(&shown).expect("its own words");
        assert_eq!(again, s);
        assert_eq!(shown.len(), KEYS.len());

        let err = |pairs| set(pairs).expect_err("refused").to_string();
        assert!(err(&[("mail_foldrs", "all")]).contains("unknown device setting"));
        assert!(err(&[("mail_folders", "some")]).contains("mail_folders=some"));
        assert!(err(&[("archive", "yes")]).contains("on or off"));
        assert!(err(&[("calendar_period", "1d")]).contains("2w, 1m, 3m or 6m"));
        assert!(err(&[("mail_period", "5y")]).contains("mail_period=5y"));
        assert!(err(&[("tasks_calendar", "x")]).contains("a folder id"));
        // Old rows (no settings at all) load as the defaults.
        let old: DeviceSettings = serde_json::from_str("{}").expect("empty");
        assert_eq!(old, DeviceSettings::default());
    }

    #[test]
    fn chosen_folders_must_be_of_the_right_kind() {
        let folders = [
            folder(7, 0, FolderType::Calendar, true),
            folder(6, 0, FolderType::Tasks, true),
            folder(20, 0, FolderType::UserMail, false),
        ];
        let check = |pairs| set(pairs).expect("parses").check_folders(&folders);
        assert!(check(&[("tasks_calendar", "7")]).is_ok());
        assert!(check(&[("tasks_calendar", "20")]).is_err());
        assert!(check(&[("tasks_calendar", "99")]).is_err());
        assert!(check(&[("notes_as", "tasks"), ("notes_folder", "6")]).is_ok());
        assert!(check(&[("notes_as", "events"), ("notes_folder", "6")]).is_err());
        assert!(
            set(&[("notes_folder", "6")])
                .expect("parses")
                .check_template()
                .is_err()
        );
    }

    #[test]
    fn sight_hides_by_settings_and_below_hidden_folders() {
        let folders = vec![
            folder(1, 0, FolderType::Inbox, true),
            folder(7, 0, FolderType::Calendar, true),
            folder(20, 0, FolderType::UserMail, false),
            folder(21, 20, FolderType::UserCalendar, false),
            folder(22, 0, FolderType::UserCalendar, false),
        ];
        let ids = |settings: &DeviceSettings, quarantined: bool| -> Vec<(u64, u8)> {
            Sight {
                settings: *settings,
                quarantined,
            }
            .hierarchy(folders.clone())
            .iter()
            .map(|f| (f.id, f.kind as u8))
            .collect()
        };
        let all = DeviceSettings::default();
        assert_eq!(
            ids(&all, false),
            [(1, 2), (7, 8), (20, 12), (21, 13), (22, 13)]
        );
        assert_eq!(ids(&all, true), [(1, 2), (7, 8)]);
        let mail_default = set(&[("mail_folders", "default")]).expect("valid");
        // 21 is a calendar, but under a hidden mail folder.
        assert_eq!(ids(&mail_default, false), [(1, 2), (7, 8), (22, 13)]);
        let gw_default = set(&[("groupware_folders", "default")]).expect("valid");
        assert_eq!(ids(&gw_default, false), [(1, 2), (7, 8), (20, 12)]);
        let as_mail = set(&[("groupware_folders", "all-as-mail")]).expect("valid");
        assert_eq!(
            ids(&as_mail, false),
            [(1, 2), (7, 12), (20, 12), (21, 12), (22, 12)]
        );
    }
}
