//! `easd group …`, `easd folder …` and `easd public-folder …`: groups of accounts, shared
//! folders and public folders.

use std::path::Path;

use clap::{Subcommand, ValueEnum};

use super::{admin, print_reply};
use crate::admin::ops::Request;
use crate::admin::reply::ShareReply;
use crate::admin::share::{Right, ShareRequest};
use crate::govern::settings::on_off;

#[derive(Subcommand)]
pub enum GroupCmd {
    /// Create a group (a name without @).
    Add { name: String },
    /// Delete a group and the shares granted to it.
    Del { name: String },
    /// Add or remove a member.
    #[command(subcommand)]
    Member(MemberCmd),
    /// Set a group's option: gal-members=on|off (every member in the GAL of every other,
    /// whatever their domains).
    Set { name: String, setting: String },
    /// The groups and their members.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum MemberCmd {
    Add { group: String, email: String },
    Del { group: String, email: String },
}

/// A right beyond reading (which every share grants).
#[derive(Clone, Copy, ValueEnum)]
pub enum RightArg {
    Read,
    Write,
    Delete,
    CreateSubfolders,
}

impl From<RightArg> for Right {
    fn from(r: RightArg) -> Right {
        match r {
            RightArg::Read => Right::Read,
            RightArg::Write => Right::Write,
            RightArg::Delete => Right::Delete,
            RightArg::CreateSubfolders => Right::CreateSubfolders,
        }
    }
}

fn rights(list: Vec<RightArg>) -> Vec<Right> {
    list.into_iter().map(Right::from).collect()
}

#[derive(Subcommand)]
pub enum FolderCmd {
    /// Share OWNER's FOLDER (display name or id) with TO (an address or a group name);
    /// sharing again replaces the rights.
    Share {
        owner: String,
        folder: String,
        to: String,
        /// Rights beyond reading, comma-separated.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "read")]
        rights: Vec<RightArg>,
    },
    /// End a share.
    Unshare {
        owner: String,
        folder: String,
        to: String,
    },
    /// Flag OWNER's contacts FOLDER (display name or id) as a GAL source, or unflag it.
    GalSource {
        owner: String,
        folder: String,
        #[arg(value_enum)]
        state: super::OnOff,
    },
    /// The contacts folders flagged as GAL sources.
    GalSources {
        #[arg(long)]
        json: bool,
    },
    /// Every share, or OWNER's.
    ListShares {
        owner: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum PublicFolderCmd {
    /// Make OWNER's FOLDER (a public or group account's) visible to every account.
    Add {
        owner: String,
        folder: String,
        #[arg(long, value_enum, value_delimiter = ',', default_value = "read")]
        rights: Vec<RightArg>,
    },
    Del {
        owner: String,
        folder: String,
    },
    List {
        #[arg(long)]
        json: bool,
    },
}

fn run(data: &Path, req: ShareRequest, json: bool) -> Result<(), String> {
    print_reply(admin(data, Request::Share(req))?, json)
}

pub fn group(data: &Path, cmd: GroupCmd) -> Result<(), String> {
    let (req, json) = match cmd {
        GroupCmd::Add { name } => (ShareRequest::GroupAdd { name }, false),
        GroupCmd::Del { name } => (ShareRequest::GroupDel { name }, false),
        GroupCmd::Member(MemberCmd::Add { group, email }) => {
            (ShareRequest::GroupMemberAdd { group, email }, false)
        }
        GroupCmd::Member(MemberCmd::Del { group, email }) => {
            (ShareRequest::GroupMemberDel { group, email }, false)
        }
        GroupCmd::Set { name, setting } => {
            let gal_members = match setting.split_once('=') {
                Some(("gal-members", value)) => on_off("gal-members", value)?,
                _ => return Err(format!("{setting}: expected gal-members=on|off")),
            };
            (ShareRequest::GroupSet { name, gal_members }, false)
        }
        GroupCmd::List { json } => (ShareRequest::GroupList, json),
    };
    run(data, req, json)
}

pub fn folder(data: &Path, cmd: FolderCmd) -> Result<(), String> {
    let (req, json) = match cmd {
        FolderCmd::Share {
            owner,
            folder,
            to,
            rights: r,
        } => (
            ShareRequest::FolderShare {
                owner,
                folder,
                to,
                rights: rights(r),
            },
            false,
        ),
        FolderCmd::Unshare { owner, folder, to } => {
            (ShareRequest::FolderUnshare { owner, folder, to }, false)
        }
        FolderCmd::GalSource {
            owner,
            folder,
            state,
        } => (
            ShareRequest::FolderGalSource {
                owner,
                folder,
                on: state == super::OnOff::On,
            },
            false,
        ),
        FolderCmd::GalSources { json } => (ShareRequest::GalSourceList, json),
        FolderCmd::ListShares { owner, json } => (ShareRequest::ShareList { owner }, json),
    };
    run(data, req, json)
}

pub fn public_folder(data: &Path, cmd: PublicFolderCmd) -> Result<(), String> {
    let (req, json) = match cmd {
        PublicFolderCmd::Add {
            owner,
            folder,
            rights: r,
        } => (
            ShareRequest::PublicAdd {
                owner,
                folder,
                rights: rights(r),
            },
            false,
        ),
        PublicFolderCmd::Del { owner, folder } => {
            (ShareRequest::PublicDel { owner, folder }, false)
        }
        PublicFolderCmd::List { json } => (ShareRequest::PublicList, json),
    };
    run(data, req, json)
}

/// Prints a sharing reply: one line per group or share, or JSON.
pub fn print(reply: ShareReply, json: bool) -> Result<(), String> {
    if json {
        let text = match &reply {
            ShareReply::Groups { groups } => serde_json::to_string_pretty(groups),
            ShareReply::Shares { shares } => serde_json::to_string_pretty(shares),
            ShareReply::GalSources { sources } => serde_json::to_string_pretty(sources),
        };
        println!("{}", text.map_err(|e| e.to_string())?);
        return Ok(());
    }
    match reply {
        ShareReply::Groups { groups } => {
            for g in groups {
                let gal = if g.gal_members { "\tgal-members" } else { "" };
                println!("{}\t{}{gal}", g.name, g.members.join(", "));
            }
        }
        ShareReply::Shares { shares } => {
            for s in shares {
                println!("{}\t{}\t{}\t{}", s.owner, s.folder, s.grantee, s.rights);
            }
        }
        ShareReply::GalSources { sources } => {
            for s in sources {
                println!("{}\t{}", s.owner, s.folder);
            }
        }
    }
    Ok(())
}
