"""The Imports page and an import's own page (contract §10): upload, live progress, error report.

An uploaded file is checked whole before anything is kept: a file that cannot be imported brings
the form back with the reason (the words `subgroups import` uses) and creates nothing. A good file
is queued with the job and run in the background by `subgroups serve` or `subgroups worker`; its
page follows the job's progress (dashboard.js asks `import_progress` every second, and without
JavaScript the page reloads itself). An import of another workspace is not found, like one that
does not exist.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.responses import Response, StreamingResponse

from subgroups.domain.imports import ImportJob, ImportStatus, import_document
from subgroups.domain.models import Workspace
from subgroups.errors import InvalidRequest, NotFound, SubgroupsError
from subgroups.services.csv_text import error_report
from subgroups.web.dashboard.uploads import MIB
from subgroups.web.dashboard.web import (
    Context,
    redirect,
    signed_in,
    signed_in_upload,
    url,
    with_notice,
)
from subgroups.web.responses import json_response

RECENT_SHOWN: Final = 50
# An import's id is a UUID; anything else is answered as not found without asking the database.
_IMPORT_ID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# How often a page without JavaScript reloads itself while its import runs.
REFRESH_SECONDS: Final = 2
UNFINISHED: Final = (ImportStatus.QUEUED, ImportStatus.RUNNING)


def _rows(count: int) -> str:
    return f"{count:,} {'row' if count == 1 else 'rows'}"


async def _list_page(ctx: Context, *, error: SubgroupsError | None = None) -> Response:
    workspace, workspaces = await ctx.workspace()
    jobs = await ctx.services.imports.recent(workspace_id=workspace.id, limit=RECENT_SHOWN)
    return ctx.form_page(
        "imports.html",
        error=error,
        workspace=workspace,
        workspaces=workspaces,
        jobs=jobs,
        max_megabytes=ctx.services.settings.import_max_bytes // MIB,
        recent_shown=RECENT_SHOWN,
        section="imports",
    )


async def _job(ctx: Context, workspace: Workspace | None = None) -> ImportJob:
    """The import the path names, in `workspace` (by default the one the path names)."""
    if workspace is None:
        workspace, _ = await ctx.workspace()
    import_id = ctx.request.path_params["import_id"]
    if not _IMPORT_ID.fullmatch(import_id):
        raise NotFound(f"There is no import {import_id} in this workspace")
    return await ctx.services.imports.get(workspace_id=workspace.id, import_id=import_id)


@signed_in
async def list_imports(ctx: Context) -> Response:
    return await _list_page(ctx)


@signed_in_upload
async def upload_import(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    if ctx.upload is None:
        return await _list_page(ctx, error=InvalidRequest("Choose a CSV file to import."))
    try:
        job = await ctx.services.imports.submit(
            workspace_id=workspace.id,
            file_name=ctx.upload.file_name or "upload.csv",
            content=ctx.upload.content,
            dry_run=ctx.form.get("dry_run") == "on",
        )
    except InvalidRequest as error:
        return await _list_page(ctx, error=error)
    what = "A dry run of" if job.dry_run else "The import of"
    text = f"{what} {job.file_name} ({_rows(job.total_rows or 0)}) is queued."
    page = url(ctx.request, "import", workspace_id=workspace.id, import_id=job.id)
    return with_notice(redirect(page), ctx.request, text)


@signed_in
async def show_import(ctx: Context) -> Response:
    workspace, workspaces = await ctx.workspace()
    job = await _job(ctx, workspace)
    return ctx.page(
        "import.html",
        workspace=workspace,
        workspaces=workspaces,
        job=job,
        running=job.status in UNFINISHED,
        refresh_seconds=REFRESH_SECONDS,
        section="imports",
    )


@signed_in
async def import_progress(ctx: Context) -> Response:
    """The import as `GET /imports/{id}` shows it, for the page's script to follow."""
    return json_response(import_document(await _job(ctx)))


@signed_in
async def import_errors(ctx: Context) -> Response:
    """The error report, `line,column,value,message`, streamed as the CLI writes it."""
    job = await _job(ctx)
    rows = ctx.services.imports.errors(workspace_id=job.workspace_id, import_id=job.id)
    return StreamingResponse(
        error_report(rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="import-{job.id}-errors.csv"'},
    )
