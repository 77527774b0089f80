"""Notebook forms that act through operations and batch runs (the only ipywidgets user).

* :class:`OperationForm`: pick organization -> environment -> resources -> operation, run it.
* :class:`CreateForm`: create an instance or a volume from the environment's offerings.
* :class:`TaskProgress`: one bar per task plus an overall bar, polled off the main thread.

Each renders when it is the last expression of a cell, writes messages and errors into its
``output`` area, and keeps its worker thread in ``.worker`` (``.join()`` waits for it).

>>> form = cmf.widgets.OperationForm(client, cmf.instances(client))   # doctest: +SKIP
>>> form                                                              # doctest: +SKIP
"""

from .create_form import CreateForm
from .operation_form import OperationForm
from .task_progress import TaskProgress

__all__ = ["CreateForm", "OperationForm", "TaskProgress"]
