// A stand-in for application code: edits here are synced into the app volume.
document.body.append(`loaded at ${new Date().toISOString()}`);
