; Inno Setup 6 script for Sayso: a per-user install (no administrator rights, no UAC prompt).
;
;   python packaging\render.py                    (writes build\packaging\windows\version.iss)
;   pyinstaller packaging\pyinstaller\sayso.spec  (writes dist\sayso\ with Sayso.exe and sayso-cli.exe)
;   iscc packaging\windows\sayso.iss              (writes dist\Sayso-<version>-setup.exe)
;
; The version is never typed here: it comes from desktop_app\__init__.py through the rendered version.iss.
#include SourcePath + "..\..\build\packaging\windows\version.iss"

#define AppName "Sayso"
#define AppExe "Sayso.exe"
#define BundleDir SourcePath + "..\..\dist\sayso"

[Setup]
; AppId must never change between versions: it is how an update finds the installed copy.
AppId={{6D3B2E4A-5C1F-4E8B-9A7D-2F0C8B1E5A93}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Sayso developers
AppPublisherURL=https://github.com/sayso/sayso
VersionInfoVersion={#AppVersion}
; Per user: installs under %LOCALAPPDATA%\Programs like VS Code or Slack do; no admin rights needed.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={localappdata}\Programs\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
OutputDir={#SourcePath}..\..\dist
OutputBaseFilename=Sayso-{#AppVersion}-setup
SetupIconFile={#SourcePath}..\..\build\packaging\windows\sayso.ico
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Sayso may be running (tray): let the installer close it and start it again afterwards.
CloseApplications=yes
RestartApplications=yes
; Signing: uncomment and configure a "signtool" sign tool in the IDE or with iscc /S (see docs/packaging.md).
; SignTool=signtool
; SignedUninstaller=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "autostart"; Description: "Start Sayso when I sign in to Windows"; GroupDescription: "Start:"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{userprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Speak instead of typing, listen instead of reading"
Name: "{userdesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; The same value the app writes when "Start at login" is switched on in its settings (HKCU Run "Sayso"), so
; the app shows the task's choice and turning it off in the app removes it.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "{#AppName}"; ValueData: """{app}\{#AppExe}"" --minimized"; Flags: uninsdeletevalue; Tasks: autostart
; Without a task: the app's own "Start at login" setting may have written the value after an install without
; the task. ValueType none writes nothing at install; uninsdeletevalue removes the value at uninstall, so no
; login item is left pointing at a deleted Sayso.exe.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: none; ValueName: "{#AppName}"; Flags: dontcreatekey uninsdeletevalue

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; Ask a running Sayso to quit before its files are removed (exit code 3 = it was not running: fine).
Filename: "{app}\sayso-cli.exe"; Parameters: "quit"; Flags: runhidden; RunOnceId: "QuitSayso"

[UninstallDelete]
; Only what the app itself created inside {app}; the user's settings and history (%APPDATA%\Sayso) stay.
Type: filesandordirs; Name: "{app}\_internal\__pycache__"
